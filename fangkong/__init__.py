"""fangkong (防控): the county epidemic prevention and control platform."""
