"""The data model: tags, VRs, elements, data sets, sequences, the dictionary and the UID registry."""
