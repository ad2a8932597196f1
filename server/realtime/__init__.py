"""Socket.IO: namespaces, rooms and the mapping from engine events to emits."""
