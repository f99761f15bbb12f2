"""The engine: Bungie client, download, extract, load, archive, settings and secrets.

Nothing under this package imports Qt; the CLI and the window are thin front ends over it.
"""
