"""The report layer: what each chapter states from the science's numbers (summaries, tables, verdicts, the names
they are glued under). One module per chapter; only the chapters import it, and it imports no chapter. The science
below it returns numbers and knows no chapter, profile or glue name.
"""
