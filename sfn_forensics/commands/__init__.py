"""One thin module per subcommand: read options, call one library function, render."""
