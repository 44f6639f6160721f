"""Small helpers shared across hepflow's layers.

They import nothing from the rest of hepflow, so any module (engine, observe,
serve, testing, benchmarks) may use them without creating a cycle.
"""
