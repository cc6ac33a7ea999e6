export { ERROR_CATALOGUE, isKafscaleError, KafscaleError, kafkaErrorOf, type KafscaleErrorCode, type KafscaleErrorOptions } from '../errors/kafscale-error.ts';
