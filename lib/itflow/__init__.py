"""ITFlow's own rules, as data and pure functions: the schema layout, the columns a create
writes, version detection, SLAs, credential crypto, PHP's text cleaning, rows in `logs`."""
