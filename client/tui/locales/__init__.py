"""Message catalogs, one folder per language and one TOML file per part of the app."""
