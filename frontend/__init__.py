"""The editor: its Django app serves the single-page app built from frontend/src/.

Layer: the top (its export_openapi command reads the whole API); nothing imports it."""
