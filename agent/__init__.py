"""techcomplex-agent: evidence for the criteria of Order No. 308/НҚ."""

from importlib import metadata

try:
    __version__ = metadata.version("techcomplex-agent")
except metadata.PackageNotFoundError:  # running from a source tree, not installed
    __version__ = "0.1.0"
