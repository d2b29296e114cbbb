"""Application layer: the use cases shared by the command line and the web application."""
