"""The parts of the RDataFrame facade (`hepflow.rdataframe` puts them together)."""
