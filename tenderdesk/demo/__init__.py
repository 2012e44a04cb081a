"""Demo data for ``make run``: the data tables apart from the code that seeds them."""
