from itflow_api.lib.modules.domains import MODULE, DomainCreate

endpoint = DomainCreate(MODULE)
