"""Version of the SegExport writer core (also written into SoftwareVersions)."""

__version__ = "0.1.0"
