"""The book's figures as functions: results in, a Matplotlib figure out (matplotlib and seaborn, never the book)."""
