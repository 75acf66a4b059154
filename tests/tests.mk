# placeholder
test-binaries:
