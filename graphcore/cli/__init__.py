"""The `graphcore` command: `main` parses and dispatches, `common` holds the options every command
shares, `exchange` the export and import commands.
"""
