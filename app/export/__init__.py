"""File ▸ Export and Import and the Code dock: each job in a module of its own."""
