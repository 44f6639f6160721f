"""hepflow's version, on the ground floor so that any layer can name it.

Run records, model bundles, the serving API and `hepflow --version` report
it; none of them should have to import the whole package for one string.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
