"""Theory: codes, their capacity under dropout (closed forms, the exact channel, simulations), toy models of
superposition, and the rule of the verdicts on the paper's claims."""
