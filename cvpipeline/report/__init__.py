"""Report step: the evaluation workbook (.xlsx) and note (.docx), every figure read from the warehouse."""
