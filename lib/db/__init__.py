"""The database: drivers, pools, transactions, errors, rows rendered as MySQL text. Nothing
outside this folder knows which database it talks to (lib/db/database.py says how)."""
