"""pgtheory: policy-gradient theory as executable, statistically sound evidence."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version

try:
    __version__ = version("pgtheory")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
