"""vendors (docs/contract.md section 6): look-up by vendor_id, client 0 for an all-clients key.

Each test sets up what it needs (rows without a create endpoint are written straight to the
database), makes its calls and asserts the envelopes and stored values exactly: every value
in a row is a string, SQL NULL is None.
"""
from helpers import changed_one, columns, new_record, one, read_rows


def test_vendor_create_read_update_by_vendor_id(api, db, all_key, two_clients):
    a, _, _ = two_clients
    vendor_id = new_record(api, "vendors", all_key, a, vendor_name="<b>Dell</b>", vendor_phone="555-0100",
                           vendor_website="dell.example")
    other = new_record(api, "vendors", all_key, a, vendor_name="HP")
    rows = read_rows(api.get("vendors/read", key=all_key, vendor_id=vendor_id))
    assert len(rows) == 1
    row = rows[0]
    assert list(row) == columns("vendors")
    assert (row["vendor_id"], row["vendor_name"], row["vendor_website"], row["vendor_client_id"],
            row["vendor_template_id"]) == (str(vendor_id), "Dell", "dell.example", str(a), "0")
    changed_one(api.post("vendors/update", {"vendor_id": vendor_id, "vendor_account_number": "ACC-1"},
                         key=all_key))
    row = one(db, "vendors", vendor_id=vendor_id)
    assert (row["vendor_name"], row["vendor_account_number"]) == ("Dell", "ACC-1")
    assert one(db, "vendors", vendor_id=other)["vendor_account_number"] in ("", None)


def test_vendor_with_all_clients_key_and_no_client_goes_to_client_zero(api, db, all_key):
    vendor_id = new_record(api, "vendors", all_key)
    assert one(db, "vendors", vendor_id=vendor_id)["vendor_client_id"] == "0"
