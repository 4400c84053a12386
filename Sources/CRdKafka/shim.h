#ifndef MEKONG_CRDKAFKA_SHIM_H
#define MEKONG_CRDKAFKA_SHIM_H
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* Swift cannot call C variadic functions; rd_kafka_producev is one. This wrapper fixes the argument list.
 * The key and value are copied (RD_KAFKA_MSG_F_COPY). `timestamp` is the record's create time in milliseconds, 0 for
 * now. On success librdkafka owns `headers`; on failure the caller still owns them and must destroy them. */
static inline rd_kafka_resp_err_t mekong_produce(rd_kafka_t *rk, const char *topic, int32_t partition,
                                                 const void *key, size_t key_len,
                                                 const void *value, size_t value_len,
                                                 rd_kafka_headers_t *headers, int64_t timestamp, void *opaque) {
    if (headers) {
        return rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
                                 RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_HEADERS(headers),
                                 RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    }
    return rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
                             RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_TIMESTAMP(timestamp),
                             RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
}

/* The message's per-message opaque (rkmessage->_private), named for readability on the Swift side. */
static inline void *mekong_message_opaque(const rd_kafka_message_t *m) { return m->_private; }

/* rd_kafka_mock_broker_push_request_error_rtts is variadic (error, rtt pairs). This pushes `count` errors, each with
 * no added round-trip time, onto one broker's error stack for one request type, in order. */
static inline rd_kafka_resp_err_t mekong_mock_broker_push_errors(rd_kafka_mock_cluster_t *mcluster, int32_t broker_id,
                                                                 int16_t api_key, const rd_kafka_resp_err_t *errors,
                                                                 size_t count) {
    for (size_t i = 0; i < count; i++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_broker_push_request_error_rtts(mcluster, broker_id, api_key, 1, errors[i], 0);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return err;
    }
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

#endif
