"""Which columns a create writes when the caller does not send them (docs/contract.md section 5).

ITFlow's create statements name a fixed list of columns per table, each with its model's
empty value when not sent; every other column is left out of the INSERT and keeps its
declared default, mostly NULL. Clients see the difference (`null` against `""`), so a
create here writes exactly these columns plus whatever the caller sends. Tables that
ITFlow 2.4.6's API cannot create follow its web forms (marked *web* in the contract).
"""

CREATE_COLUMNS = {
    "clients": ("client_name", "client_type", "client_website", "client_referral", "client_rate",
                "client_currency_code", "client_net_terms", "client_tax_id_number", "client_abbreviation",
                "client_lead", "client_notes", "client_accessed_at"),
    "contacts": ("contact_name", "contact_title", "contact_department", "contact_email", "contact_phone",
                 "contact_extension", "contact_mobile", "contact_notes", "contact_primary", "contact_important",
                 "contact_billing", "contact_technical", "contact_location_id", "contact_client_id"),
    "assets": ("asset_name", "asset_description", "asset_type", "asset_make", "asset_model", "asset_serial",
               "asset_os", "asset_uri", "asset_status", "asset_location_id", "asset_vendor_id",
               "asset_contact_id", "asset_purchase_date", "asset_warranty_expire", "asset_install_date",
               "asset_notes", "asset_client_id"),
    "asset_interfaces": ("interface_name", "interface_mac", "interface_ip", "interface_primary",
                         "interface_network_id", "interface_asset_id"),
    "certificates": ("certificate_name", "certificate_description", "certificate_domain",
                     "certificate_issued_by", "certificate_expire", "certificate_public_key",
                     "certificate_notes", "certificate_domain_id", "certificate_client_id"),
    "credentials": ("credential_name", "credential_description", "credential_uri", "credential_uri_2",
                    "credential_username", "credential_password", "credential_otp_secret", "credential_note",
                    "credential_favorite", "credential_contact_id", "credential_asset_id",
                    "credential_client_id"),
    "documents": ("document_name", "document_description", "document_content", "document_content_raw",
                  "document_folder_id", "document_created_by", "document_client_id"),
    "locations": ("location_name", "location_description", "location_country", "location_address",
                  "location_city", "location_state", "location_zip", "location_hours", "location_notes",
                  "location_primary", "location_client_id"),
    "tickets": ("ticket_prefix", "ticket_number", "ticket_source", "ticket_subject", "ticket_details",
                "ticket_priority", "ticket_status", "ticket_billable", "ticket_vendor_ticket_number",
                "ticket_vendor_id", "ticket_created_by", "ticket_assigned_to", "ticket_contact_id",
                "ticket_asset_id", "ticket_url_key", "ticket_client_id"),
    "ticket_replies": ("ticket_reply", "ticket_reply_type", "ticket_reply_time_worked", "ticket_reply_by",
                       "ticket_reply_ticket_id"),
    "domains": ("domain_name", "domain_description", "domain_registrar", "domain_webhost", "domain_dnshost",
                "domain_mailhost", "domain_expire", "domain_ip", "domain_name_servers", "domain_mail_servers",
                "domain_txt", "domain_raw_whois", "domain_notes", "domain_client_id"),
    "networks": ("network_name", "network_description", "network_vlan", "network", "network_subnet",
                 "network_gateway", "network_primary_dns", "network_secondary_dns", "network_dhcp_range",
                 "network_notes", "network_location_id", "network_client_id"),
    "software": ("software_name", "software_version", "software_description", "software_type", "software_key",
                 "software_license_type", "software_seats", "software_purchase_reference", "software_purchase",
                 "software_expire", "software_notes", "software_vendor_id", "software_client_id"),
    "products": ("product_name", "product_type", "product_description", "product_code", "product_location",
                 "product_price", "product_currency_code", "product_tax_id", "product_category_id"),
    "vendors": ("vendor_name", "vendor_description", "vendor_contact_name", "vendor_phone_country_code",
                "vendor_phone", "vendor_extension", "vendor_email", "vendor_website", "vendor_hours",
                "vendor_sla", "vendor_code", "vendor_account_number", "vendor_notes", "vendor_client_id"),
}


def written_on_create(table):
    """The columns a create of `table` writes unasked, or None: every field (no list known)."""
    found = CREATE_COLUMNS.get(table)
    return None if found is None else frozenset(found)
