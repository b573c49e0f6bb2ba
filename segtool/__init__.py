"""segtool: customer lifecycle segmentation and task sheets from B2B CRM exports."""

__version__ = "0.2.0"
