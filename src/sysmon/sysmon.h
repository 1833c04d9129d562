/* src/sysmon/sysmon.h - the watchdog M (Go: proc.go sysmon). Design in sysmon.c. */
#ifndef GORT_SYSMON_H
#define GORT_SYSMON_H

void rt_sysmon_start(void);
void rt_sysmon_main(void) __attribute__((noreturn)); /* on the sysmon M */
void rt_sysmon_wake(void);
void rt_sysmon_wake_locked(void); /* the same with sched.lock held */

#endif /* GORT_SYSMON_H */
