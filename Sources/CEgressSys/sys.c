int egressd_sys_placeholder(void) { return 0; }
