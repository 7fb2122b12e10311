"""Deprecated: moved to polycode_utils.book.page (kept only while the chapters move over)."""

from polycode_utils.book.page import message_figure, provenance_box, set_style

__all__ = ["message_figure", "provenance_box", "set_style"]
