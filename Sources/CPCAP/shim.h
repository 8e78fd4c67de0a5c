#ifndef EGRESSD_CPCAP_SHIM_H
#define EGRESSD_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
