"""cvpipeline: consolidation and evaluation of a contrat de ville's partner data."""
