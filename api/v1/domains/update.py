from itflow_api.lib.modules.domains import MODULE, DomainUpdate

endpoint = DomainUpdate(MODULE)
