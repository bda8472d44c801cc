"""The public portal: Datasette plugins, templates, static files and metadata."""
