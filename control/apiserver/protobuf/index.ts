export { decodeProtobufBody, PROTOBUF_CONTENT_TYPE, PROTOBUF_MAGIC } from './decode.ts';
