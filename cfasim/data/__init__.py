"""Reading datasets: the one reader (`open_dataset`, checked reads) and DNG export."""
