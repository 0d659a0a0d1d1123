"""Graph files: the JSON format and its schema, migrations between versions, and atomic saving."""
