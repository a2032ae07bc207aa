"""Report step: the evaluation workbook for analysts (Excel / LibreOffice)."""
