// CFuzzDriver has only a header (include/CFuzzDriver.h); SwiftPM wants a source file.
