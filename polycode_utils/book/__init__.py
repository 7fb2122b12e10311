"""The book's machinery: the build tool (``polycode``), the page kit chapters use, and the book's paths.

Science modules never import this package, and it imports no science module (it starts fast, without torch).
"""
