#ifndef EGRESSD_CEGRESSSYS_H
#define EGRESSD_CEGRESSSYS_H
int egressd_sys_placeholder(void);
#endif
