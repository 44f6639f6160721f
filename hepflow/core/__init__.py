"""hepflow's ground floor: the vocabulary every layer shares.

Column types (`types`), the unit of reading (`chunk`) and what a sample
carries into the kernel (`sampleinfo`) are used by io, dataset, plan and the
engine alike; kept here, below all of them, no layer reaches up for them.
"""
