"""Command-line interface: ``zsaudio <command>``; one module per sub-command."""
