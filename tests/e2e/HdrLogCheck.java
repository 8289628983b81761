// Reads a stormlight --hdr-log file with HdrHistogram's own HistogramLogReader (Debian's
// libhdrhistogram-java), an independent decoder of the interval log and its compressed V2
// encoding, and prints per tag (untagged lines as "*"): intervals, total count, p50, p99
// and max, all in the recorded unit (microseconds). Used by tests/e2e/test_reports.py.
import java.io.File;
import java.util.Map;
import java.util.TreeMap;
import org.HdrHistogram.EncodableHistogram;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;

public class HdrLogCheck {
    public static void main(String[] args) throws Exception {
        HistogramLogReader reader = new HistogramLogReader(new File(args[0]));
        Map<String, Histogram> sums = new TreeMap<>();
        Map<String, Integer> intervals = new TreeMap<>();
        EncodableHistogram e;
        while ((e = reader.nextIntervalHistogram()) != null) {
            Histogram h = (Histogram) e;
            String tag = h.getTag() == null ? "*" : h.getTag();
            Histogram sum = sums.get(tag);
            if (sum == null) {
                sum = new Histogram(h.getLowestDiscernibleValue(), h.getHighestTrackableValue(),
                                    h.getNumberOfSignificantValueDigits());
                sums.put(tag, sum);
            }
            sum.add(h);
            intervals.merge(tag, 1, Integer::sum);
        }
        System.out.println("start " + reader.getStartTimeSec());
        for (Map.Entry<String, Histogram> en : sums.entrySet()) {
            Histogram h = en.getValue();
            System.out.println("tag " + en.getKey() + " intervals " + intervals.get(en.getKey())
                               + " count " + h.getTotalCount()
                               + " p50 " + h.getValueAtPercentile(50.0)
                               + " p99 " + h.getValueAtPercentile(99.0)
                               + " max " + h.getMaxValue());
        }
    }
}
