"""One reader per file format, each turning a file's content into a Table (core.data.table);
`core.data.files` tells the format and calls the reader."""
