from itflow_api.lib.events import subscription_endpoints

endpoint = subscription_endpoints.create
