// bench/map_absl.cc - abseil's absl::flat_hash_map<uint64_t, uint64_t>, the
// same phases and keys as bench/map.c (bench_map u64 / worst).
#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

static inline uint64_t key_at(uint64_t i)
{
    uint64_t z = i * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double now_ns()
{
    return (double)std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
static long peak_mb()
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmHWM:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb >> 10;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "u64";
    uint64_t n = argc > 2 ? strtoull(argv[2], nullptr, 10) : 2000000;
    long base = peak_mb();
    absl::flat_hash_map<uint64_t, uint64_t> m;
    if (!strcmp(mode, "worst")) {
        double worst = 0, t = now_ns();
        for (uint64_t i = 1; i <= n; i++) {
            m[key_at(i)] = i;
            double t2 = now_ns();
            if (t2 - t > worst)
                worst = t2 - t;
            t = t2;
        }
        printf("RESULT map_worst_insert_us %.1f us\n", worst / 1000);
        return 0;
    }
    double t0 = now_ns();
    for (uint64_t i = 1; i <= n; i++)
        m[key_at(i)] = i;
    double t1 = now_ns();
    uint64_t sum = 0;
    for (uint64_t i = 1; i <= n; i++)
        sum += m.find(key_at(i))->second;
    double t2 = now_ns();
    for (uint64_t i = n + 1; i <= 2 * n; i++)
        sum += m.find(key_at(i)) != m.end();
    double t3 = now_ns();
    long peak = peak_mb() - base;
    for (uint64_t i = 1; i <= n; i++)
        sum += m.erase(key_at(i));
    double t4 = now_ns();
    if (sum != n * (n + 1) / 2 + n)
        printf("wrong sum\n");
    printf("RESULT map_u64_insert_ns %.1f ns\nRESULT map_u64_hit_ns %.1f ns\nRESULT map_u64_miss_ns %.1f ns\n"
           "RESULT map_u64_delete_ns %.1f ns\nRESULT map_u64_peak_mb %ld MB\n",
           (t1 - t0) / n, (t2 - t1) / n, (t3 - t2) / n, (t4 - t3) / n, peak);
    return 0;
}
