package io.cloudtask.controlplane.task;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudtask.controlplane.testing.ControlPlaneTest;
import io.cloudtask.controlplane.testing.RestClient;
import io.micronaut.runtime.server.EmbeddedServer;
import io.micronaut.test.extensions.junit5.annotation.MicronautTest;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every schedule kind through the REST API: creation, preview, and field-named rejections. */
@MicronautTest(environments = "test", transactional = false)
class ScheduleApiTest extends ControlPlaneTest {
    @Inject
    EmbeddedServer server;

    RestClient rest;

    @BeforeEach
    void client() {
        rest = new RestClient(server.getURI());
    }

    private static String task(String name, String timeZone, String schedules) {
        return """
                {"name": "%s", "command": "true", "timeZone": "%s", "schedules": %s}""".formatted(name, timeZone, schedules);
    }

    private static String preview(String timeZone, String after, int count, String schedules) {
        return """
                {"timeZone": "%s", "after": "%s", "count": %d, "schedules": %s}""".formatted(timeZone, after, count, schedules);
    }

    private static List<String> texts(JsonNode array, String field) {
        List<String> result = new ArrayList<>();
        array.forEach(element -> result.add(element.get(field).asText()));
        return result;
    }

    /** Asserts a 400 naming the field, and returns the message. */
    private String rejected(RestClient.Response response, String field) {
        assertThat(response.status()).as(response.body()).isEqualTo(400);
        assertThat(response.json().get("code").asText()).isEqualTo("INVALID_ARGUMENT");
        assertThat(response.json().get("field").asText()).as(response.body()).isEqualTo(field);
        return response.json().get("message").asText();
    }

    private String rejectedSchedule(String schedule, String field) {
        return rejected(rest.post("/api/v1/schedules/preview",
                preview("Europe/Berlin", "2026-01-01T00:00:00Z", 3, "[" + schedule + "]")), field);
    }

    @Test
    void createsATaskWithEveryKindAndStoresItNormalised() {
        String schedules = """
                [{"type": "cron", "expression": "@daily"},
                 {"type": "interval", "every": 15, "unit": "Minutes", "window": {"start": "09:00", "end": "17:00"}},
                 {"type": "daily", "at": "06:30:00", "everyDays": 2, "startDate": "2026-01-05"},
                 {"type": "weekly", "everyWeeks": 2, "daysOfWeek": ["mon", "FRIDAY"], "at": "06:30"},
                 {"type": "monthly", "months": [1, 4, 7, 10], "dayOfMonth": -1, "at": "23:00"},
                 {"type": "monthly", "weekday": "FRI", "weekdayOrdinal": -1, "at": "18:00"},
                 {"type": "once", "at": "2030-12-24T19:00:00+01:00"}]""";
        RestClient.Response created = rest.post("/api/v1/tasks", task("every-kind", "Europe/Berlin", schedules));
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        JsonNode stored = created.json().get("schedules");
        assertThat(texts(stored, "type")).containsExactly("cron", "interval", "daily", "weekly", "monthly", "monthly", "once");
        assertThat(stored.get(1).get("unit").asText()).isEqualTo("minutes");
        assertThat(stored.get(1).get("window").get("end").asText()).isEqualTo("17:00");
        assertThat(stored.get(2).get("at").asText()).isEqualTo("06:30");
        assertThat(stored.get(3).get("daysOfWeek").toString()).isEqualTo("[\"MON\",\"FRI\"]");
        assertThat(stored.get(3).has("expression")).as("fields of other kinds are left out").isFalse();
        assertThat(stored.get(4).get("dayOfMonth").asInt()).isEqualTo(-1);
        assertThat(stored.get(6).get("at").asText()).isEqualTo("2030-12-24T18:00:00Z");
        assertThat(created.json().get("nextFireTimes")).hasSize(5);

        String id = created.json().get("id").asText();
        JsonNode preview = rest.get("/api/v1/tasks/" + id + "/preview?count=5&after=2026-01-30T15:00:00Z").json();
        assertThat(preview.get("timeZone").asText()).isEqualTo("Europe/Berlin");
        // Friday 30 January 2026: quarter hours until the window closes at 17:00 CET, the last
        // Friday at 18:00 CET, then @daily at midnight CET.
        assertThat(texts(preview.get("fireTimes"), "time")).containsExactly("2026-01-30T15:15:00Z",
                "2026-01-30T15:30:00Z", "2026-01-30T15:45:00Z", "2026-01-30T17:00:00Z", "2026-01-30T23:00:00Z");
        assertThat(preview.get("fireTimes").get(3).get("localTime").asText()).isEqualTo("2026-01-30T18:00:00+01:00");
    }

    @Test
    void previewsUnsavedSchedulesAcrossADaylightSavingSwitch() {
        RestClient.Response response = rest.post("/api/v1/schedules/preview", preview("Europe/Berlin",
                "2026-03-27T12:00:00Z", 3, "[{\"type\": \"daily\", \"at\": \"02:30\"}]"));
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        JsonNode fireTimes = response.json().get("fireTimes");
        assertThat(texts(fireTimes, "time")).containsExactly(
                "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z");
        assertThat(texts(fireTimes, "localTime")).containsExactly(
                "2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00");
    }

    @Test
    void previewListsTenFiresAfterNowByDefaultAndMergesSharedInstants() {
        Instant before = Instant.now();
        RestClient.Response response = rest.post("/api/v1/schedules/preview", """
                {"schedules": [{"type": "interval", "every": 1, "unit": "hours"}, {"type": "cron", "expression": "@hourly"}]}""");
        Instant afterwards = Instant.now();
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        JsonNode body = response.json();
        assertThat(body.get("timeZone").asText()).isEqualTo("UTC");
        assertThat(Instant.parse(body.get("after").asText())).isBetween(before, afterwards);
        List<Instant> times = texts(body.get("fireTimes"), "time").stream().map(Instant::parse).toList();
        assertThat(times).hasSize(10).isSorted().doesNotHaveDuplicates();
        assertThat(times.get(0)).isAfter(before).isBefore(afterwards.plusSeconds(3600));
    }

    @Test
    void previewStopsWhenTheSchedulesStopFiring() {
        JsonNode body = rest.post("/api/v1/schedules/preview", preview("UTC", "2026-01-01T00:00:00Z", 1000,
                "[{\"type\": \"once\", \"at\": \"2026-06-01T00:00:00Z\"}]")).json();
        assertThat(texts(body.get("fireTimes"), "time")).containsExactly("2026-06-01T00:00:00Z");
    }

    @Test
    void rejectsSchedulesThatCanNeverFireNamingTheField() {
        assertThat(rejectedSchedule("{\"type\": \"monthly\", \"months\": [4, 6, 9, 11], \"dayOfMonth\": 31, \"at\": \"08:00\"}",
                "schedules[0].dayOfMonth")).contains("day 31 never occurs");
        assertThat(rejectedSchedule("{\"type\": \"monthly\", \"months\": [2], \"dayOfMonth\": 30, \"at\": \"08:00\"}",
                "schedules[0].dayOfMonth")).contains("never occurs");
        assertThat(rejectedSchedule("{\"type\": \"cron\", \"expression\": \"0 0 0 30 2 ?\"}", "schedules[0].expression"))
                .contains("never fires");
        assertThat(rejectedSchedule("{\"type\": \"daily\", \"at\": \"20:00\", \"window\": {\"start\": \"09:00\", \"end\": \"17:00\"}}",
                "schedules[0].window")).contains("excludes every fire");
        assertThat(rejectedSchedule("{\"type\": \"daily\", \"at\": \"12:00\", \"activeFrom\": \"2026-01-10T12:00:00Z\","
                + " \"activeUntil\": \"2026-01-10T23:00:00Z\"}", "schedules[0].activeUntil")).contains("no fire");
    }

    @Test
    void rejectsMalformedFieldsOfEachKindByName() {
        rejectedSchedule("{\"type\": \"interval\", \"every\": 5, \"unit\": \"days\"}", "schedules[0].unit");
        rejectedSchedule("{\"type\": \"interval\", \"every\": 0, \"unit\": \"minutes\"}", "schedules[0].every");
        rejectedSchedule("{\"type\": \"interval\", \"unit\": \"minutes\"}", "schedules[0].every");
        assertThat(rejectedSchedule("{\"type\": \"interval\", \"every\": 5, \"unit\": \"minutes\", \"at\": \"06:00\"}",
                "schedules[0].at")).contains("'at' does not apply to type 'interval'");
        rejectedSchedule("{\"type\": \"daily\", \"at\": \"25:00\"}", "schedules[0].at");
        rejectedSchedule("{\"type\": \"daily\"}", "schedules[0].at");
        rejectedSchedule("{\"type\": \"daily\", \"at\": \"06:00\", \"everyDays\": 0}", "schedules[0].everyDays");
        rejectedSchedule("{\"type\": \"daily\", \"at\": \"06:00\", \"startDate\": \"2026-02-30\"}", "schedules[0].startDate");
        rejectedSchedule("{\"type\": \"weekly\", \"daysOfWeek\": [\"MON\", \"FUNDAY\"], \"at\": \"06:00\"}",
                "schedules[0].daysOfWeek[1]");
        rejectedSchedule("{\"type\": \"weekly\", \"at\": \"06:00\"}", "schedules[0].daysOfWeek");
        rejectedSchedule("{\"type\": \"weekly\", \"everyWeeks\": 53, \"daysOfWeek\": [\"MON\"], \"at\": \"06:00\"}",
                "schedules[0].everyWeeks");
        rejectedSchedule("{\"type\": \"monthly\", \"months\": [13], \"dayOfMonth\": 1, \"at\": \"06:00\"}",
                "schedules[0].months[0]");
        rejectedSchedule("{\"type\": \"monthly\", \"dayOfMonth\": 0, \"at\": \"06:00\"}", "schedules[0].dayOfMonth");
        rejectedSchedule("{\"type\": \"monthly\", \"at\": \"06:00\"}", "schedules[0].dayOfMonth");
        rejectedSchedule("{\"type\": \"monthly\", \"weekday\": \"FRI\", \"weekdayOrdinal\": 5, \"at\": \"06:00\"}",
                "schedules[0].weekdayOrdinal");
        rejectedSchedule("{\"type\": \"monthly\", \"weekday\": \"FRI\", \"weekdayOrdinal\": 1, \"dayOfMonth\": 3,"
                + " \"at\": \"06:00\"}", "schedules[0].dayOfMonth");
        rejectedSchedule("{\"type\": \"once\", \"at\": \"tomorrow\"}", "schedules[0].at");
        rejectedSchedule("{\"type\": \"cron\", \"expression\": \"@reboot\"}", "schedules[0].expression");
        rejectedSchedule("{\"type\": \"daily\", \"at\": \"06:00\", \"window\": {\"start\": \"09:00\", \"end\": \"09:00\"}}",
                "schedules[0].window");
        rejectedSchedule("{\"type\": \"daily\", \"at\": \"06:00\", \"window\": {\"start\": \"09:00\"}}",
                "schedules[0].window.end");
    }

    @Test
    void namesTheIndexOfTheOffendingScheduleOnCreate() {
        RestClient.Response response = rest.post("/api/v1/tasks", task("third-is-bad", "UTC", """
                [{"type": "daily", "at": "06:00"}, {"type": "cron", "expression": "@hourly"},
                 {"type": "monthly", "months": [2], "dayOfMonth": 31, "at": "06:00"}]"""));
        assertThat(rejected(response, "schedules[2].dayOfMonth")).contains("never occurs");
        assertThat(rest.get("/api/v1/tasks?limit=1000").body()).doesNotContain("third-is-bad");
    }

    @Test
    void rejectsABadCountAfterOrUnknownTaskInAPreview() {
        String daily = "[{\"type\": \"daily\", \"at\": \"06:00\"}]";
        rejected(rest.post("/api/v1/schedules/preview", preview("UTC", "2026-01-01T00:00:00Z", 0, daily)), "count");
        assertThat(rejected(rest.post("/api/v1/schedules/preview", preview("UTC", "2026-01-01T00:00:00Z", 1001, daily)),
                "count")).contains("1000");
        rejected(rest.post("/api/v1/schedules/preview", preview("UTC", "yesterday", 3, daily)), "after");
        rejected(rest.post("/api/v1/schedules/preview", preview("Mars/Olympus", "2026-01-01T00:00:00Z", 3, daily)),
                "timeZone");
        RestClient.Response unknown = rest.get("/api/v1/tasks/00000000-0000-0000-0000-000000000001/preview");
        assertThat(unknown.status()).isEqualTo(404);
        String id = rest.post("/api/v1/tasks", task("preview-count", "UTC", daily)).json().get("id").asText();
        rejected(rest.get("/api/v1/tasks/" + id + "/preview?count=5000"), "count");
        assertThat(rest.get("/api/v1/tasks/" + id + "/preview").json().get("fireTimes")).hasSize(10);
    }
}
