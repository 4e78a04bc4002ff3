"""Create, change, accept and invoice quotes through ITFlow's own agent quote page and record what it stores.

    python tests/itflow_recorded/record_quotes.py /path/to/itflow-newest DBNAME > itflow-newest-quotes.json

As record_invoices.py (the same seed, plus a ticket the first quote was made for), with the
quote page's handlers (agent/post/quote.php): add_quote, add_quote_item, edit_quote,
mark_quote_sent, accept_quote and add_quote_to_invoice. tests/test_quotes.py sends the same
changes to quotes/create (its `items` standing for the add_quote_item steps after it),
quotes/update, mark_sent, accept and invoice, and compares.
"""
import json
import sys

import record_invoices

LINES = [{"add_quote_item": 1, "quote_id": 1, "name": "Firewall", "description": "2 units", "qty": "1",
          "price": "1249.995", "tax_id": 2, "item_order": 1},     # 1249.995 stored 1250.00; 8.25 % tax
         {"add_quote_item": 1, "quote_id": 1, "name": "Installation", "description": "", "qty": "2.5",
          "price": "95", "tax_id": 1, "item_order": 2}]


def api_line(form):
    line = {k: form[k] for k in ("name", "qty", "price")}
    if int(form["tax_id"]):
        line["tax_id"] = int(form["tax_id"])
    if form["description"]:
        line["description"] = form["description"]
    return line


STEPS = [
    {"step": "create a quote", "handler": "quote", "method": "POST",
     "form": {"add_quote": 1, "client_id": 1, "date": "2026-12-01", "expire": "2026-12-31", "category": 0,
              "scope": "Firewall refresh"},
     "api": {"path": "quotes/create", "body": {"client_id": 1, "quote_date": "2026-12-01", "quote_expire": "2026-12-31",
                                               "quote_scope": "Firewall refresh",
                                               "items": [api_line(f) for f in LINES]}}},
    *({"step": f"add a line: {f['name']}", "handler": "quote", "method": "POST", "form": f, "api": None}
      for f in LINES),
    {"step": "the next quote, for another client, without lines", "handler": "quote", "method": "POST",
     "form": {"add_quote": 1, "client_id": 2, "date": "2026-12-02", "expire": "2027-01-02", "category": 0,
              "scope": "Laptops"},
     "api": {"path": "quotes/create", "body": {"client_id": 2, "quote_date": "2026-12-02",
                                               "quote_expire": "2027-01-02", "quote_scope": "Laptops"}}},
    {"step": "edit the first quote: a discount of three decimals, another scope and expiry", "handler": "quote",
     "method": "POST",
     "form": {"edit_quote": 1, "quote_id": 1, "date": "2026-12-01", "expire": "2027-01-15", "category": 0,
              "quote_discount": "50.005", "scope": "Firewall refresh, installed"},
     "api": {"path": "quotes/update", "body": {"quote_id": 1, "quote_expire": "2027-01-15",
                                               "quote_discount_amount": "50.005",
                                               "quote_scope": "Firewall refresh, installed"}}},
    {"step": "mark the first quote sent", "handler": "quote", "method": "GET", "form": {"mark_quote_sent": 1},
     "api": {"path": "quotes/mark_sent", "body": {"quote_id": 1}}},
    {"step": "the client accepts it", "handler": "quote", "method": "GET", "form": {"accept_quote": 1},
     "api": {"path": "quotes/accept", "body": {"quote_id": 1}}},
    {"step": "turn it into an invoice", "handler": "quote", "method": "POST",
     "form": {"add_quote_to_invoice": 1, "quote_id": 1, "date": "2026-12-05"},
     "api": {"path": "quotes/invoice", "body": {"quote_id": 1, "invoice_date": "2026-12-05"}}},
]


def seed():
    plan = ORIGINAL_SEED()
    plan["tickets"] = [{"ticket_id": 1, "ticket_prefix": "TCK-", "ticket_number": 1, "ticket_subject": "New firewall",
                        "ticket_details": "Quote it", "ticket_status": 2, "ticket_created_by": 1,
                        "ticket_client_id": 1, "ticket_quote_id": 1, "ticket_invoice_id": 0,
                        "ticket_created_at": "2026-11-30 09:00:00"}]
    return plan


ORIGINAL_SEED = record_invoices.seed

if __name__ == "__main__":
    record_invoices.seed = seed
    record_invoices.SEEDED = (*record_invoices.SEEDED, "tickets")
    record_invoices.RESET.append("tickets")
    record_invoices.TABLES["tickets"] = "ticket_id"
    print(json.dumps(record_invoices.main(sys.argv[1], sys.argv[2], STEPS, "agent/post/quote.php"), indent=1))
