"""One definition per module: api/v1/<name>/*.py endpoint files import MODULE from here."""
