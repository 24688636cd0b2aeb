"""The app's side of sync: the node it configures, the document port, the book of known peers."""
